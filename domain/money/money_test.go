package money_test

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/commerce-engine/commerce/domain/money"
)

func eur(a int64) money.Money { return money.Money{Amount: a, Currency: "EUR"} }

func TestNew(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cur string
		ok  bool
	}{{"EUR", true}, {"USD", true}, {"eur", false}, {"EU", false}, {"EURO", false}, {"", false}, {"E1R", false}} {
		_, err := money.New(100, c.cur)
		if c.ok != (err == nil) {
			t.Errorf("New(100, %q) err = %v", c.cur, err)
		}
		if !c.ok && !errors.Is(err, money.ErrInvalidCurrency) {
			t.Errorf("New(100, %q) err = %v, want ErrInvalidCurrency", c.cur, err)
		}
	}
}

func TestArithmetic(t *testing.T) {
	t.Parallel()
	usd := money.Money{Amount: 1, Currency: "USD"}
	big := eur(math.MaxInt64)
	small := eur(math.MinInt64)
	cases := []struct {
		name string
		op   func() (money.Money, error)
		want money.Money
		err  error
	}{
		{"add", func() (money.Money, error) { return eur(150).Add(eur(50)) }, eur(200), nil},
		{"add mixed", func() (money.Money, error) { return eur(1).Add(usd) }, money.Money{}, money.ErrCurrencyMismatch},
		{"add overflow", func() (money.Money, error) { return big.Add(eur(1)) }, money.Money{}, money.ErrOverflow},
		{"add underflow", func() (money.Money, error) { return small.Add(eur(-1)) }, money.Money{}, money.ErrOverflow},
		{"sub", func() (money.Money, error) { return eur(150).Sub(eur(200)) }, eur(-50), nil},
		{"sub mixed", func() (money.Money, error) { return eur(1).Sub(usd) }, money.Money{}, money.ErrCurrencyMismatch},
		{"sub overflow", func() (money.Money, error) { return small.Sub(eur(1)) }, money.Money{}, money.ErrOverflow},
		{"sub overflow up", func() (money.Money, error) { return big.Sub(eur(-1)) }, money.Money{}, money.ErrOverflow},
		{"mul", func() (money.Money, error) { return eur(1999).Mul(3) }, eur(5997), nil},
		{"mul zero", func() (money.Money, error) { return eur(1999).Mul(0) }, eur(0), nil},
		{"mul overflow", func() (money.Money, error) { return big.Mul(2) }, money.Money{}, money.ErrOverflow},
		{"mul min by -1", func() (money.Money, error) { return small.Mul(-1) }, money.Money{}, money.ErrOverflow},
		{"mul -1 by min", func() (money.Money, error) { return eur(-1).Mul(math.MinInt64) }, money.Money{}, money.ErrOverflow},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.op()
			if !errors.Is(err, c.err) || (c.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if got != c.want {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestCompareAndPredicates(t *testing.T) {
	t.Parallel()
	if c, err := eur(1).Compare(eur(2)); c != -1 || err != nil {
		t.Fatalf("Compare = %d, %v", c, err)
	}
	if c, err := eur(2).Compare(eur(1)); c != 1 || err != nil {
		t.Fatalf("Compare = %d, %v", c, err)
	}
	if c, err := eur(2).Compare(eur(2)); c != 0 || err != nil {
		t.Fatalf("Compare = %d, %v", c, err)
	}
	if _, err := eur(1).Compare(money.Money{Amount: 1, Currency: "USD"}); !errors.Is(err, money.ErrCurrencyMismatch) {
		t.Fatalf("Compare mixed err = %v", err)
	}
	if !eur(1).IsPositive() || eur(0).IsPositive() || (money.Money{Amount: 1}).IsPositive() {
		t.Fatal("IsPositive wrong")
	}
	if !money.Zero("EUR").IsZero() || eur(1).String() != "1 EUR" {
		t.Fatal("Zero/String wrong")
	}
}

func TestJSONShape(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(eur(1999))
	if err != nil || string(b) != `{"amount":1999,"currency":"EUR"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var m money.Money
	if err := json.Unmarshal(b, &m); err != nil || m != eur(1999) {
		t.Fatalf("Unmarshal = %v, %v", m, err)
	}
}
