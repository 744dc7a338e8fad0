// Package fetch looks prices up.
package fetch

import (
	"context"
	"errors"
)

var prices = map[string]int{"widget": 3, "gadget": 7}

// Price returns the price of item, or an error when it is unknown or ctx ends first.
func Price(ctx context.Context, item string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	price, ok := prices[item]
	if !ok {
		return 0, errors.New("unknown item " + item)
	}
	return price, nil
}
