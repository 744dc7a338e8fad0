package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"example.com/shop/fetch"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	price, err := fetch.Price(ctx, "widget")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(price)
}
