package policytest

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/internal/principal"
)

// Result is one case's outcome.
type Result struct {
	Suite, Name string
	Phase       string
	Expect      string
	Got         string
	// WantRule is the substring the case asked of the rule; Rule and
	// Reason are what the gate said.
	WantRule, Rule, Reason string
	Pass                   bool
	Duration               time.Duration
}

// Report is a run's results and coverage.
type Report struct {
	Results  []Result
	Coverage Coverage
}

// Failed counts the cases that did not pass.
func (r *Report) Failed() int {
	n := 0
	for _, res := range r.Results {
		if !res.Pass {
			n++
		}
	}
	return n
}

// Options narrow and time a run.
type Options struct {
	// Run, when set, keeps the cases whose "<suite>/<case>" name it matches.
	Run *regexp.Regexp
	// Now is the time conditions see when neither suite nor case sets one.
	Now time.Time
}

// item is one decision to make: a case, or a matrix cell.
type item struct {
	suite, name, phase, expect, rule, tool string
	p                                      *principal.Principal
	args                                   map[string]any
	now                                    time.Time
}

// Run decides every case of suites under pol.
func Run(ctx context.Context, pol Policy, suites []*Suite, o Options) (*Report, error) {
	rep := &Report{}
	cov := newCoverage(pol)
	for _, s := range suites {
		items, err := s.items(o.Now)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if o.Run != nil && !o.Run.MatchString(it.suite+"/"+it.name) {
				continue
			}
			res, err := decide(ctx, pol, it, cov)
			if err != nil {
				return nil, fmt.Errorf("%s/%s: %w", it.suite, it.name, err)
			}
			rep.Results = append(rep.Results, res)
		}
	}
	rep.Coverage = cov.summary()
	return rep, nil
}

// decide makes one item's decision and judges it against the expectation.
func decide(ctx context.Context, pol Policy, it item, cov *coverage) (Result, error) {
	start := time.Now()
	res := Result{Suite: it.suite, Name: it.name, Phase: it.phase, Expect: it.expect, WantRule: it.rule}
	cov.sawTool(it.tool)
	cov.sawGrant(pol, it.p, it.tool)
	if it.phase == PhaseList {
		res.Got = "hidden"
		if pol.Offered(it.p, it.tool) {
			res.Got = "offered"
		}
		res.Rule = pol.Gate.Perms.Check(it.p, pol.Tools[it.tool].Policy.Permission).Rule
	} else {
		args, err := argsJSON(it.args)
		if err != nil {
			return res, fmt.Errorf("args: %w", err)
		}
		d := pol.Decide(ctx, it.p, it.tool, args, it.now)
		cov.sawDecision(it.tool, d)
		res.Got, res.Rule, res.Reason = d.Verdict.String(), d.Event.Rule, d.Reason
	}
	res.Pass = res.Got == res.Expect && strings.Contains(res.Rule, it.rule)
	res.Duration = time.Since(start)
	return res, nil
}

// items are the suite's cases and matrix cells, in file order.
func (s *Suite) items(defaultNow time.Time) ([]item, error) {
	now := defaultNow
	if s.Now != nil {
		now = *s.Now
	}
	var out []item
	for _, c := range s.Cases {
		spec := s.Principals[c.As]
		if c.Principal != nil {
			spec = *c.Principal
		}
		p, err := spec.principal()
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", s.Name, c.Name, err)
		}
		it := item{suite: s.Name, name: c.Name, phase: phaseOf(c.Phase, PhaseCall), expect: c.Expect,
			rule: c.Rule, tool: c.Tool, p: p, args: c.Args, now: now}
		if c.Now != nil {
			it.now = *c.Now
		}
		out = append(out, it)
	}
	for i, m := range s.Matrix {
		name := m.Name
		if name == "" {
			name = fmt.Sprintf("matrix[%d]", i)
		}
		for _, role := range slices.Sorted(maps.Keys(m.Roles)) {
			for j, tool := range m.Tools {
				p := &principal.Principal{Subject: role, Roles: []string{role}, Method: principal.MethodAPIKey, Claims: map[string]any{}}
				out = append(out, item{suite: s.Name, name: fmt.Sprintf("%s/%s/%s", name, role, tool),
					phase: phaseOf(m.Phase, PhaseList), expect: m.Roles[role][j], tool: tool, p: p, args: m.Args[tool], now: now})
			}
		}
	}
	return out, nil
}
