module github.com/tamkeen/tamkeen/services/signature

go 1.26
