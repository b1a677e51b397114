module github.com/tamkeen/tamkeen/services/content

go 1.26
