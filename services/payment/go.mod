module github.com/tamkeen/tamkeen/services/payment

go 1.26
