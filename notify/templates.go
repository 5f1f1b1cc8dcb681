package notify

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strconv"
	"strings"
	texttemplate "text/template"

	"github.com/commerce-engine/commerce/domain/money"
)

//go:embed templates/*.txt templates/*.html
var templateFS embed.FS

// view is the data every template sees; each uses the fields it needs.
type view struct {
	Shop     string
	Name     string
	OrderID  string
	Link     string
	Carrier  string
	Tracking string
	Reason   string
	Amount   string
	Total    string
	Lines    []lineView
}

type lineView struct {
	ProductID string
	Quantity  int64
	UnitPrice string
	LineTotal string
}

// templates holds, per name, a text template defining "subject" and "text"
// and an HTML template defining "html".
type templates struct {
	text map[string]*texttemplate.Template
	html map[string]*htmltemplate.Template
}

var templateNames = []string{
	tmplVerifyEmail, tmplOrderConfirmation, tmplOrderProcessing, tmplOrderShipped,
	tmplOrderDelivered, tmplOrderCancelled, tmplOrderRefunded, tmplPaymentFailed, tmplPaymentRefunded,
}

func loadTemplates() (*templates, error) {
	t := &templates{text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	for _, name := range templateNames {
		tt, err := texttemplate.New(name).Option("missingkey=error").ParseFS(templateFS, "templates/"+name+".txt")
		if err != nil {
			return nil, fmt.Errorf("notify: parse %s.txt: %w", name, err)
		}
		ht, err := htmltemplate.New(name).Option("missingkey=error").ParseFS(templateFS, "templates/_layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("notify: parse %s.html: %w", name, err)
		}
		t.text[name], t.html[name] = tt, ht
	}
	return t, nil
}

// render returns the email of template name for v, without its recipient.
func (t *templates) render(name string, v view) (Email, error) {
	var subj, text, html bytes.Buffer
	tt, ht := t.text[name], t.html[name]
	if tt == nil || ht == nil {
		return Email{}, fmt.Errorf("notify: no template %q", name)
	}
	if err := tt.ExecuteTemplate(&subj, "subject", v); err != nil {
		return Email{}, fmt.Errorf("notify: render %s subject: %w", name, err)
	}
	if err := tt.ExecuteTemplate(&text, "text", v); err != nil {
		return Email{}, fmt.Errorf("notify: render %s text: %w", name, err)
	}
	if err := ht.ExecuteTemplate(&html, "layout", v); err != nil {
		return Email{}, fmt.Errorf("notify: render %s html: %w", name, err)
	}
	return Email{
		Subject: strings.Join(strings.Fields(subj.String()), " "),
		Text:    strings.TrimSpace(text.String()) + "\n",
		HTML:    html.String(),
	}, nil
}

// minorDigits lists the currencies whose minor unit is not a hundredth
// (ISO 4217); every other currency has two decimals.
var minorDigits = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
	"PYG": 0, "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

// FormatMoney renders m for people, "12.99 EUR" for 1299 minor units of
// EUR, with the currency's number of decimals; emails show every amount
// this way.
func FormatMoney(m money.Money) string {
	digits, ok := minorDigits[m.Currency]
	if !ok {
		digits = 2
	}
	neg := m.Amount < 0
	// Through uint64 so that the most negative amount has a magnitude.
	abs := uint64(m.Amount)
	if neg {
		abs = -abs
	}
	s := strconv.FormatUint(abs, 10)
	if digits > 0 {
		if len(s) <= digits {
			s = strings.Repeat("0", digits-len(s)+1) + s
		}
		s = s[:len(s)-digits] + "." + s[len(s)-digits:]
	}
	if neg {
		s = "-" + s
	}
	return s + " " + m.Currency
}
