package cost

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// WriteJSON writes the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as aligned tables, one per stack, and a total.
func (r Report) WriteText(w io.Writer) error {
	pw := &errWriter{w: w}
	env := ""
	if r.Env != "" {
		env = fmt.Sprintf(" for environment %q", r.Env)
	}
	pw.printf("Idle monthly estimate%s: %s on-demand list prices (table checked %s), %s hours/month, %s\n",
		env, r.Region, r.PricesChecked, fmtNum(r.HoursPerMonth), r.Currency)
	for _, s := range r.Stacks {
		head := fmt.Sprintf("%.2f %s/month", s.MonthlyUSD, r.Currency)
		if s.FloorUSD > 0 {
			head += fmt.Sprintf(", of which %.2f idle floors", s.FloorUSD)
		}
		pw.printf("\n== %s  (%s)\n", s.Stack, head)
		var regular, floors []Line
		for _, l := range s.Lines {
			if l.Floor {
				floors = append(floors, l)
			} else {
				regular = append(regular, l)
			}
		}
		lines(pw, regular, "  ")
		if len(floors) > 0 {
			pw.printf("  idle floors (what monitoring and idle traffic cost with no users; assumptions in the notes):\n")
			lines(pw, floors, "    ")
		}
		if len(s.UsageBased) > 0 {
			pw.printf("  billed per use, $0 while idle:\n")
			entries(pw, s.UsageBased)
		}
		if len(s.Stored) > 0 {
			pw.printf("  stored data, billed per GB-month for what is put there (not sized by the templates, not in the total):\n")
			entries(pw, s.Stored)
		}
		if len(s.NotPriced) > 0 {
			pw.printf("  NOT PRICED (missing from the total):\n")
			entries(pw, s.NotPriced)
		}
		if s.Free > 0 {
			pw.printf("  %d free resource(s) (VPC plumbing, IAM, security groups...) not listed\n", s.Free)
		}
	}
	pw.printf("\nTOTAL idle estimate: %.2f %s/month across %d stack(s)", r.MonthlyUSD, r.Currency, len(r.Stacks))
	if r.FloorUSD > 0 {
		pw.printf(", idle floors included (%.2f)", r.FloorUSD)
	}
	pw.printf("\n")
	if r.MonthlyLowUSD < r.MonthlyUSD {
		pw.printf("with every varying price at its best case: %.2f %s/month\n", r.MonthlyLowUSD, r.Currency)
	}
	if r.NotPriced > 0 {
		pw.printf("%d item(s) not priced: the total is a lower bound.\n", r.NotPriced)
	}
	if r.UsageBased > 0 {
		pw.printf("%d resource(s) cost nothing until used; traffic adds to them.\n", r.UsageBased)
	}
	if r.Stored > 0 {
		pw.printf("%d resource(s) bill for the data stored in them, on top of the total.\n", r.Stored)
	}
	return pw.err
}

func lines(pw *errWriter, ls []Line, indent string) {
	if len(ls) == 0 {
		return
	}
	t := table{align: []bool{false, false, false, true, false, true, true, false}}
	t.add("RESOURCE", "TYPE", "ITEM", "QUANTITY", "UNIT", "UNIT USD", "MONTHLY USD", "NOTE")
	for _, l := range ls {
		t.add(l.LogicalID, l.Type, l.Item, fmtNum(l.Quantity), l.Unit,
			strconv.FormatFloat(l.UnitPrice, 'f', -1, 64), fmt.Sprintf("%.2f", l.MonthlyUSD), l.Note)
	}
	t.write(pw, indent)
}

func entries(pw *errWriter, es []Entry) {
	t := table{align: []bool{false, false, false}}
	for _, e := range es {
		t.add(e.LogicalID, e.Type, e.Reason)
	}
	t.write(pw, "    ")
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, a ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, a...)
	}
}

// table aligns columns; align[i] true means right-aligned.
type table struct {
	align []bool
	rows  [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(pw *errWriter, indent string) {
	width := make([]int, len(t.align))
	for _, r := range t.rows {
		for i, c := range r {
			if n := utf8.RuneCountInString(c); n > width[i] {
				width[i] = n
			}
		}
	}
	for _, r := range t.rows {
		var b strings.Builder
		b.WriteString(indent)
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			last := i == len(r)-1
			if t.align[i] {
				b.WriteString(pad + c)
			} else {
				b.WriteString(c)
				if !last {
					b.WriteString(pad)
				}
			}
			if !last {
				b.WriteString("  ")
			}
		}
		pw.printf("%s\n", strings.TrimRight(b.String(), " "))
	}
}
