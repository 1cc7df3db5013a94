package cost

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

//go:embed prices.json
var embeddedPrices []byte

// Price statuses, see status_legend in prices.json.
const (
	StatusChecked     = "checked"
	StatusDerived     = "derived"
	StatusUnconfirmed = "unconfirmed"
)

// Price is one figure of the price table.
type Price struct {
	USD    float64 `json:"usd"`
	Unit   string  `json:"unit"`
	Status string  `json:"status"`
	Date   string  `json:"date"`
	Source string  `json:"source"`
	Note   string  `json:"note,omitempty"`
}

// PriceTable is the parsed prices.json.
type PriceTable struct {
	Region        string            `json:"region"`
	Currency      string            `json:"currency"`
	HoursPerMonth float64           `json:"hours_per_month"`
	Checked       string            `json:"checked"`
	StatusLegend  map[string]string `json:"status_legend"`
	Notes         []string          `json:"notes"`
	Prices        map[string]Price  `json:"prices"`
}

// DefaultPrices returns the price table compiled into the binary.
func DefaultPrices() (*PriceTable, error) {
	return ParsePrices(embeddedPrices)
}

// LoadPrices reads a price table from a file (same format as prices.json).
func LoadPrices(path string) (*PriceTable, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := ParsePrices(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// ParsePrices parses and validates a price table.
func ParsePrices(b []byte) (*PriceTable, error) {
	var t PriceTable
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("price table: %w", err)
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

// Validate checks that every figure says where it comes from and when it was
// checked, so nobody has to guess how old or how solid a number is.
func (t *PriceTable) Validate() error {
	var errs []string
	if t.Region == "" || t.Currency == "" {
		errs = append(errs, "region and currency are required")
	}
	if t.HoursPerMonth <= 0 {
		errs = append(errs, "hours_per_month must be positive")
	}
	if _, err := time.Parse("2006-01-02", t.Checked); err != nil {
		errs = append(errs, fmt.Sprintf("checked %q is not a YYYY-MM-DD date", t.Checked))
	}
	if len(t.Prices) == 0 {
		errs = append(errs, "no prices")
	}
	keys := make([]string, 0, len(t.Prices))
	for k := range t.Prices {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := t.Prices[k]
		if strings.TrimSpace(p.Source) == "" {
			errs = append(errs, k+": source is empty")
		}
		if _, err := time.Parse("2006-01-02", p.Date); err != nil {
			errs = append(errs, fmt.Sprintf("%s: date %q is not a YYYY-MM-DD date", k, p.Date))
		}
		if p.Unit == "" {
			errs = append(errs, k+": unit is empty")
		}
		if p.USD < 0 {
			errs = append(errs, k+": negative price")
		}
		switch p.Status {
		case StatusChecked, StatusDerived, StatusUnconfirmed:
		default:
			errs = append(errs, fmt.Sprintf("%s: status %q is not checked, derived or unconfirmed", k, p.Status))
		}
	}
	if len(errs) > 0 {
		return errors.New("price table: " + strings.Join(errs, "; "))
	}
	return nil
}
