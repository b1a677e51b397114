module github.com/tamkeen/tamkeen/services/auth

go 1.26
