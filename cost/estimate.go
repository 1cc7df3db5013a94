package cost

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Line is one priced item of one resource.
type Line struct {
	Stack      string  `json:"stack"`
	LogicalID  string  `json:"logical_id"`
	Type       string  `json:"type"`
	Item       string  `json:"item"`
	Quantity   float64 `json:"quantity"`
	Unit       string  `json:"unit"`
	UnitPrice  float64 `json:"unit_price_usd"`
	MonthlyUSD float64 `json:"monthly_usd"`
	PriceKey   string  `json:"price_key"`
	PriceState string  `json:"price_status"`
	Note       string  `json:"note,omitempty"`
	// MonthlyLowUSD is the best case when the price varies (Spot), else
	// MonthlyUSD.
	MonthlyLowUSD float64 `json:"monthly_low_usd"`
	// Floor marks what monitoring and idle traffic cost with no users
	// (log ingestion, rotated keys...): computed from the template and the
	// assumptions the note states, rather than billed per hour provisioned.
	Floor bool `json:"floor,omitempty"`
}

// Entry is a resource (or part of one) left out of the idle figure.
type Entry struct {
	Stack     string `json:"stack"`
	LogicalID string `json:"logical_id"`
	Type      string `json:"type"`
	Reason    string `json:"reason"`
}

// StackReport is the estimate of one stack.
type StackReport struct {
	Stack string `json:"stack"`
	Lines []Line `json:"lines"`
	// UsageBased costs nothing while nobody uses it (requests, invocations,
	// transfer): the reason says why.
	UsageBased []Entry `json:"usage_based"`
	// Stored is billed per GB-month for what is put there (objects, images,
	// log events); the template does not say how much that is.
	Stored        []Entry `json:"stored_data"`
	NotPriced     []Entry `json:"not_priced"`
	Free          int     `json:"free_resources"`
	MonthlyUSD    float64 `json:"monthly_usd"`
	MonthlyLowUSD float64 `json:"monthly_low_usd"`
	FloorUSD      float64 `json:"floor_usd"`
}

// Report is the estimate of an environment.
type Report struct {
	Env           string        `json:"env,omitempty"`
	Region        string        `json:"region"`
	Currency      string        `json:"currency"`
	HoursPerMonth float64       `json:"hours_per_month"`
	PricesChecked string        `json:"prices_checked"`
	Stacks        []StackReport `json:"stacks"`
	// MonthlyUSD is the idle total, floors included, at typical prices; the
	// budget (-max) applies to it.
	MonthlyUSD float64 `json:"monthly_usd"`
	// MonthlyLowUSD is the same total with every varying price at its best case.
	MonthlyLowUSD float64 `json:"monthly_low_usd"`
	// FloorUSD is the part of MonthlyUSD that idle floors make up.
	FloorUSD   float64 `json:"floor_usd"`
	NotPriced  int     `json:"not_priced_count"`
	UsageBased int     `json:"usage_based_count"`
	Stored     int     `json:"stored_data_count"`
}

// Estimate prices every resource of the stacks. Stacks are estimated
// together so that Fn::ImportValue between them can be followed.
func Estimate(env string, stacks []*Stack, prices *PriceTable) Report {
	w := newWorld(stacks)
	w.region = prices.Region
	rep := Report{
		Env:           env,
		Region:        prices.Region,
		Currency:      prices.Currency,
		HoursPerMonth: prices.HoursPerMonth,
		PricesChecked: prices.Checked,
	}
	for _, s := range stacks {
		sr := StackReport{Stack: s.Name, Lines: []Line{}, UsageBased: []Entry{}, Stored: []Entry{}, NotPriced: []Entry{}}
		ids := make([]string, 0, len(s.Template.Resources))
		for id := range s.Template.Resources {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			e := &est{w: w, s: s, id: id, r: s.Template.Resources[id], p: prices, out: &sr}
			e.run()
		}
		for _, l := range sr.Lines {
			sr.MonthlyUSD += l.MonthlyUSD
			sr.MonthlyLowUSD += l.MonthlyLowUSD
			if l.Floor {
				sr.FloorUSD += l.MonthlyUSD
			}
		}
		sr.MonthlyUSD = round6(sr.MonthlyUSD)
		sr.MonthlyLowUSD = round6(sr.MonthlyLowUSD)
		sr.FloorUSD = round6(sr.FloorUSD)
		rep.MonthlyUSD += sr.MonthlyUSD
		rep.MonthlyLowUSD += sr.MonthlyLowUSD
		rep.FloorUSD += sr.FloorUSD
		rep.NotPriced += len(sr.NotPriced)
		rep.UsageBased += len(sr.UsageBased)
		rep.Stored += len(sr.Stored)
		rep.Stacks = append(rep.Stacks, sr)
	}
	rep.MonthlyUSD = round6(rep.MonthlyUSD)
	rep.MonthlyLowUSD = round6(rep.MonthlyLowUSD)
	rep.FloorUSD = round6(rep.FloorUSD)
	return rep
}

// CheckBudget returns an error when the idle estimate exceeds max USD.
func (r Report) CheckBudget(max float64) error {
	if r.MonthlyUSD <= max {
		return nil
	}
	msg := fmt.Sprintf("idle estimate %.2f %s/month exceeds the budget of %.2f", r.MonthlyUSD, r.Currency, max)
	if r.NotPriced > 0 {
		msg += fmt.Sprintf(" (and %d item(s) are not priced, so the real figure is higher)", r.NotPriced)
	}
	return fmt.Errorf("%s", msg)
}

func round6(f float64) float64 { return math.Round(f*1e6) / 1e6 }

// est prices one resource.
type est struct {
	w   *world
	s   *Stack
	id  string
	r   Resource
	p   *PriceTable
	out *StackReport
}

func (e *est) props() props {
	return props{w: e.w, s: e.s, m: e.r.Properties}
}

func (e *est) hours() float64 { return e.p.HoursPerMonth }

// line adds qty units of the price key.
func (e *est) line(item string, qty float64, key, note string) {
	e.addLine(item, qty, key, note, false)
}

// floor adds an idle floor: qty units of the price key that monitoring and
// idle traffic consume, the note saying what the quantity assumes.
func (e *est) floor(item string, qty float64, key, note string) {
	e.addLine(item, qty, key, note, true)
}

func (e *est) addLine(item string, qty float64, key, note string, floor bool) {
	p, ok := e.p.Prices[key]
	if !ok {
		e.notPriced(fmt.Sprintf("%s: no price %q in the price table", item, key))
		return
	}
	if p.Status == StatusUnconfirmed || p.Status == StatusDerived {
		note = joinNotes(note, "price "+p.Status)
	}
	low := p.USD
	if p.LowUSD != nil {
		low = *p.LowUSD
		note = joinNotes(note, fmt.Sprintf("price varies: typical %s, best case %s per %s",
			strconv.FormatFloat(p.USD, 'f', -1, 64), strconv.FormatFloat(low, 'f', -1, 64), p.Unit))
	}
	e.out.Lines = append(e.out.Lines, Line{
		Stack:      e.s.Name,
		LogicalID:  e.id,
		Type:       e.r.Type,
		Item:       item,
		Quantity:   round6(qty),
		Unit:       p.Unit,
		UnitPrice:  p.USD,
		MonthlyUSD: round6(qty * p.USD),
		PriceKey:   key,
		PriceState: p.Status,
		Note:       note,

		MonthlyLowUSD: round6(qty * low),
		Floor:         floor,
	})
}

// assume returns an assumption of the price table and its value rendered
// for a note ("150 bytes/record").
func (e *est) assume(key string) (float64, string, bool) {
	a, ok := e.p.Assumptions[key]
	if !ok {
		e.notPriced(fmt.Sprintf("idle floor: no assumption %q in the price table", key))
		return 0, "", false
	}
	return a.Value, fmtNum(a.Value) + " " + a.Unit, true
}

// hourly adds count units billed every hour of the month.
func (e *est) hourly(item string, count float64, key, note string) {
	e.line(item, count*e.hours(), key, note)
}

// usageLine shows a usage-based component of a priced resource at 0.
func (e *est) usageLine(item, key, note string) {
	e.line(item, 0, key, joinNotes("usage-based: $0 while idle", note))
}

func (e *est) notPriced(reason string) {
	e.out.NotPriced = append(e.out.NotPriced, Entry{Stack: e.s.Name, LogicalID: e.id, Type: e.r.Type, Reason: reason})
}

func (e *est) usage(reason string) {
	e.out.UsageBased = append(e.out.UsageBased, Entry{Stack: e.s.Name, LogicalID: e.id, Type: e.r.Type, Reason: reason})
}

func (e *est) stored(reason string) {
	e.out.Stored = append(e.out.Stored, Entry{Stack: e.s.Name, LogicalID: e.id, Type: e.r.Type, Reason: reason})
}

func (e *est) free() { e.out.Free++ }

func joinNotes(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

func (e *est) run() {
	if _, ok := freeTypes[e.r.Type]; ok {
		e.free()
		return
	}
	if e.r.Condition != "" {
		created, err := e.w.condition(e.s, e.r.Condition, 0)
		if err != nil {
			e.notPriced(fmt.Sprintf("created only if condition %s holds, which cannot be evaluated: %v", e.r.Condition, err))
			return
		}
		if !created {
			e.free()
			return
		}
	}
	if h, ok := handlers[e.r.Type]; ok {
		h(e)
		return
	}
	if reason, ok := usageTypes[e.r.Type]; ok {
		e.usage(reason)
		return
	}
	if reason, ok := storedTypes[e.r.Type]; ok {
		e.stored(reason)
		return
	}
	if e.r.Type == "AWS::CloudFormation::CustomResource" || strings.HasPrefix(e.r.Type, "Custom::") {
		e.usage("custom resource: its provider Lambda runs only while deploying")
		return
	}
	e.notPriced("resource type not in the price table")
}
