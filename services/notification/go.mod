module github.com/tamkeen/tamkeen/services/notification

go 1.26
