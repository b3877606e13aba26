package policytest

import (
	"encoding/xml"
	"fmt"
	"io"
)

// WriteText prints each failure with the expected and actual verdict, rule
// and reason, then a summary and the coverage with what it misses.
func (r *Report) WriteText(w io.Writer) {
	for _, res := range r.Results {
		if res.Pass {
			continue
		}
		fmt.Fprintf(w, "FAIL %s/%s (%s): expected %s, got %s\n", res.Suite, res.Name, res.Phase, res.Expect, res.Got)
		if res.WantRule != "" {
			fmt.Fprintf(w, "    expected rule containing: %s\n", res.WantRule)
		}
		fmt.Fprintf(w, "    rule: %s\n", res.Rule)
		if res.Reason != "" {
			fmt.Fprintf(w, "    reason: %s\n", res.Reason)
		}
	}
	fmt.Fprintf(w, "%d cases: %d passed, %d failed\n", len(r.Results), len(r.Results)-r.Failed(), r.Failed())
	fmt.Fprintln(w, r.Coverage.Line())
	for _, m := range r.Coverage.Missing() {
		fmt.Fprintf(w, "    not covered: %s\n", m)
	}
}

// The JUnit XML schema CI systems read (the common subset).
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Tests   int          `xml:"tests,attr"`
	Fails   int          `xml:"failures,attr"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name  string      `xml:"name,attr"`
	Tests int         `xml:"tests,attr"`
	Fails int         `xml:"failures,attr"`
	Time  string      `xml:"time,attr"`
	Cases []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the results as JUnit XML, one testsuite per suite file.
func (r *Report) WriteJUnit(w io.Writer) error {
	out := junitSuites{Tests: len(r.Results), Fails: r.Failed()}
	index := map[string]int{}
	took := map[int]float64{}
	for _, res := range r.Results {
		i, ok := index[res.Suite]
		if !ok {
			i = len(out.Suites)
			index[res.Suite] = i
			out.Suites = append(out.Suites, junitSuite{Name: res.Suite})
		}
		s := &out.Suites[i]
		c := junitCase{Name: res.Name, Classname: res.Suite, Time: seconds(res.Duration.Seconds())}
		if !res.Pass {
			s.Fails++
			c.Failure = &junitFailure{
				Type:    "policy",
				Message: fmt.Sprintf("expected %s, got %s", res.Expect, res.Got),
				Text:    fmt.Sprintf("rule: %s\nreason: %s\nexpected rule containing: %s\n", res.Rule, res.Reason, res.WantRule),
			}
		}
		s.Tests++
		s.Cases = append(s.Cases, c)
		took[i] += res.Duration.Seconds()
	}
	for i := range out.Suites {
		out.Suites[i].Time = seconds(took[i])
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func seconds(s float64) string { return fmt.Sprintf("%.6f", s) }
