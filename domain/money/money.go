// Package money is an amount of one currency in integer minor units, so that
// prices and totals never suffer floating-point rounding.
package money

import (
	"errors"
	"fmt"
	"math"
)

var (
	// ErrInvalidCurrency means a currency code is not three upper-case ASCII
	// letters (the ISO 4217 alphabetic shape).
	ErrInvalidCurrency = errors.New("money: invalid currency code")
	// ErrCurrencyMismatch means an operation mixed two currencies; amounts
	// are never converted implicitly.
	ErrCurrencyMismatch = errors.New("money: currency mismatch")
	// ErrOverflow means an operation's result does not fit in int64 minor
	// units.
	ErrOverflow = errors.New("money: amount overflow")
)

// Money is an amount in minor units (cents for EUR, yen for JPY) of one
// currency. Its JSON shape is {"amount":1999,"currency":"EUR"}, the shape
// every event payload and API body uses.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// New returns amount minor units of currency. It returns ErrInvalidCurrency
// unless currency is three upper-case ASCII letters; it does not check the
// code against the ISO list, which changes over time.
func New(amount int64, currency string) (Money, error) {
	m := Money{Amount: amount, Currency: currency}
	if err := m.Validate(); err != nil {
		return Money{}, err
	}
	return m, nil
}

// Zero returns no money of currency, the starting point of a sum.
func Zero(currency string) Money { return Money{Currency: currency} }

// ValidCurrency reports whether code has the ISO 4217 alphabetic shape:
// exactly three upper-case ASCII letters.
func ValidCurrency(code string) bool {
	if len(code) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if code[i] < 'A' || code[i] > 'Z' {
			return false
		}
	}
	return true
}

// Validate returns ErrInvalidCurrency if m's currency is malformed. Any
// amount, negative included, is valid money; callers state their own sign
// rules (a price must be positive, a refund too).
func (m Money) Validate() error {
	if !ValidCurrency(m.Currency) {
		return fmt.Errorf("%w: %q", ErrInvalidCurrency, m.Currency)
	}
	return nil
}

// IsPositive reports whether m is a valid amount above zero, the rule for
// prices, payments and refunds.
func (m Money) IsPositive() bool { return m.Amount > 0 && ValidCurrency(m.Currency) }

// IsZero reports whether m's amount is zero, whatever its currency.
func (m Money) IsZero() bool { return m.Amount == 0 }

// SameCurrency reports whether m and o can be added or compared.
func (m Money) SameCurrency(o Money) bool { return m.Currency == o.Currency }

// Add returns m + o. It returns ErrCurrencyMismatch for different currencies
// and ErrOverflow if the sum does not fit in int64.
func (m Money) Add(o Money) (Money, error) {
	if !m.SameCurrency(o) {
		return Money{}, fmt.Errorf("%w: %s + %s", ErrCurrencyMismatch, m.Currency, o.Currency)
	}
	s := m.Amount + o.Amount
	if (o.Amount > 0 && s < m.Amount) || (o.Amount < 0 && s > m.Amount) {
		return Money{}, ErrOverflow
	}
	return Money{Amount: s, Currency: m.Currency}, nil
}

// Sub returns m - o. It returns ErrCurrencyMismatch for different currencies
// and ErrOverflow if the difference does not fit in int64.
func (m Money) Sub(o Money) (Money, error) {
	if !m.SameCurrency(o) {
		return Money{}, fmt.Errorf("%w: %s - %s", ErrCurrencyMismatch, m.Currency, o.Currency)
	}
	d := m.Amount - o.Amount
	if (o.Amount > 0 && d > m.Amount) || (o.Amount < 0 && d < m.Amount) {
		return Money{}, ErrOverflow
	}
	return Money{Amount: d, Currency: m.Currency}, nil
}

// Mul returns m times qty, the total of a cart or order line. It returns
// ErrOverflow if the product does not fit in int64.
func (m Money) Mul(qty int64) (Money, error) {
	if m.Amount == 0 || qty == 0 {
		return Money{Currency: m.Currency}, nil
	}
	if (m.Amount == -1 && qty == math.MinInt64) || (qty == -1 && m.Amount == math.MinInt64) {
		return Money{}, ErrOverflow
	}
	p := m.Amount * qty
	if p/qty != m.Amount {
		return Money{}, ErrOverflow
	}
	return Money{Amount: p, Currency: m.Currency}, nil
}

// Compare returns -1, 0 or +1 as m is less than, equal to or greater than o.
// It returns ErrCurrencyMismatch for different currencies.
func (m Money) Compare(o Money) (int, error) {
	if !m.SameCurrency(o) {
		return 0, fmt.Errorf("%w: %s vs %s", ErrCurrencyMismatch, m.Currency, o.Currency)
	}
	switch {
	case m.Amount < o.Amount:
		return -1, nil
	case m.Amount > o.Amount:
		return 1, nil
	}
	return 0, nil
}

// String renders m as "1999 EUR" (minor units, then code) for logs and
// errors; it is not a display format.
func (m Money) String() string { return fmt.Sprintf("%d %s", m.Amount, m.Currency) }
