package analytics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/projections"
)

// Granularities of the sales series.
const (
	GranularityDay   = "day"
	GranularityWeek  = "week"  // ISO weeks, named by their Monday
	GranularityMonth = "month" // named by their first day
)

// ErrGranularity means a sales series was asked for by something other
// than day, week or month.
var ErrGranularity = errors.New("analytics: granularity must be day, week or month")

// Reader is what the analytics endpoints ask of the model. Ranges are by
// UTC day: from's day is included, to's day is not.
type Reader interface {
	projections.Positioned
	// Sales returns one point per period and currency with sales or
	// refunds, periods ascending (then currencies); granularity is day,
	// week or month (ErrGranularity otherwise).
	Sales(ctx context.Context, from, to time.Time, granularity string) ([]SalesPoint, error)
	// TopProducts returns the best sellers by revenue, then units, then
	// product id: one item per product and currency, at most limit.
	TopProducts(ctx context.Context, from, to time.Time, limit int) ([]ProductSales, error)
	// Funnel counts the checkout funnel's steps over the range.
	Funnel(ctx context.Context, from, to time.Time) (Funnel, error)
}

// SalesPoint is one period of the sales series in one currency.
type SalesPoint struct {
	// Period is the period's first day ("2026-11-23" for that ISO week).
	Period  string      `json:"period"`
	Orders  int64       `json:"orders"`
	Units   int64       `json:"units"`
	Revenue money.Money `json:"revenue"`
	Refunds money.Money `json:"refunds"`
}

// ProductSales is one best seller: units sold and revenue over the range.
type ProductSales struct {
	ProductID string      `json:"product_id"`
	Name      string      `json:"name"`
	Units     int64       `json:"units"`
	Revenue   money.Money `json:"revenue"`
}

// Funnel counts, over a range, the carts started, checkouts, payments
// taken, orders shipped and orders cancelled.
type Funnel struct {
	Carts     int64 `json:"carts"`
	Checkouts int64 `json:"checkouts"`
	Paid      int64 `json:"paid"`
	Shipped   int64 `json:"shipped"`
	Cancelled int64 `json:"cancelled"`
}

// period returns the first day of the period of granularity that day
// ("2006-01-02") falls in.
func period(day, granularity string) (string, error) {
	t, err := time.Parse(dayLayout, day)
	if err != nil {
		return "", fmt.Errorf("analytics: bad day %q: %w", day, err)
	}
	switch granularity {
	case GranularityDay:
	case GranularityWeek:
		t = t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7))
	case GranularityMonth:
		t = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	default:
		return "", fmt.Errorf("%w: %q", ErrGranularity, granularity)
	}
	return t.Format(dayLayout), nil
}

func validGranularity(g string) error {
	switch g {
	case GranularityDay, GranularityWeek, GranularityMonth:
		return nil
	}
	return fmt.Errorf("%w: %q", ErrGranularity, g)
}
