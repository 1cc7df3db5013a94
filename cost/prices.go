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
	USD float64 `json:"usd"`
	// LowUSD, when set, is the best case of a price that varies (Fargate
	// Spot): USD is the typical figure the total uses, LowUSD the lowest.
	LowUSD *float64 `json:"low_usd,omitempty"`
	Unit   string   `json:"unit"`
	Status string   `json:"status"`
	Date   string   `json:"date"`
	Source string   `json:"source"`
	Note   string   `json:"note,omitempty"`
}

// Assumption is a figure an idle floor rests on that no price list gives
// (bytes per log record, records per health check...). It is printed with
// every line that uses it.
type Assumption struct {
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Basis  string  `json:"basis"`
	Source string  `json:"source"`
	Date   string  `json:"date"`
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
	// Assumptions are the figures idle floors rest on.
	Assumptions map[string]Assumption `json:"assumptions"`
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
		if p.LowUSD != nil && (*p.LowUSD < 0 || *p.LowUSD > p.USD) {
			errs = append(errs, fmt.Sprintf("%s: low_usd %v must be between 0 and usd %v", k, *p.LowUSD, p.USD))
		}
	}
	akeys := make([]string, 0, len(t.Assumptions))
	for k := range t.Assumptions {
		akeys = append(akeys, k)
	}
	sort.Strings(akeys)
	for _, k := range akeys {
		a := t.Assumptions[k]
		if strings.TrimSpace(a.Basis) == "" || strings.TrimSpace(a.Source) == "" {
			errs = append(errs, "assumption "+k+": basis and source are required")
		}
		if _, err := time.Parse("2006-01-02", a.Date); err != nil {
			errs = append(errs, fmt.Sprintf("assumption %s: date %q is not a YYYY-MM-DD date", k, a.Date))
		}
		if a.Unit == "" || a.Value <= 0 {
			errs = append(errs, "assumption "+k+": needs a unit and a positive value")
		}
	}
	if len(errs) > 0 {
		return errors.New("price table: " + strings.Join(errs, "; "))
	}
	return nil
}
