module github.com/tamkeen/tamkeen/proto

go 1.26
