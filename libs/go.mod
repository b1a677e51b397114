module github.com/tamkeen/tamkeen/libs

go 1.26.0
