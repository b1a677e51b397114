module github.com/tamkeen/tamkeen/gateway

go 1.26
