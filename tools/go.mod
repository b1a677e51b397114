module github.com/tamkeen/tamkeen/tools

go 1.26
