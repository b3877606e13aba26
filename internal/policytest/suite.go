package policytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gatehousehq/gatehouse/internal/principal"
)

// Suite is one YAML file of cases.
type Suite struct {
	// Name is the file's base name; cases are named "<suite>/<case>".
	Name string `yaml:"-"`
	// Now is the time conditions see, for cases that set none (default:
	// the time the suite runs).
	Now *time.Time `yaml:"now"`
	// Principals are callers cases refer to by name (as:).
	Principals map[string]PrincipalSpec `yaml:"principals"`
	Cases      []Case                   `yaml:"cases"`
	Matrix     []Matrix                 `yaml:"matrix"`
}

// PrincipalSpec is a caller as a case declares it.
type PrincipalSpec struct {
	Method  string         `yaml:"method"` // api_key (default) | jwt | mtls
	Subject string         `yaml:"subject"`
	Issuer  string         `yaml:"issuer"`
	Roles   []string       `yaml:"roles"`
	Scopes  []string       `yaml:"scopes"`
	Claims  map[string]any `yaml:"claims"`
	// Actor is the delegation chain, nearest actor first: who acts for
	// the subject, with the roles the issuer's delegation config gives it.
	Actor []ActorSpec `yaml:"actor"`
}

// ActorSpec is one party of a delegation chain.
type ActorSpec struct {
	Subject  string   `yaml:"subject"`
	ClientID string   `yaml:"client_id"`
	Roles    []string `yaml:"roles"`
}

// Case is one expectation.
type Case struct {
	Name      string         `yaml:"name"`
	As        string         `yaml:"as"`
	Principal *PrincipalSpec `yaml:"principal"`
	Tool      string         `yaml:"tool"`
	Args      map[string]any `yaml:"args"`
	Phase     string         `yaml:"phase"`  // call (default) | list
	Expect    string         `yaml:"expect"` // call: allow | deny | approval; list: offered | hidden
	Rule      string         `yaml:"rule"`   // a substring of the deciding rule
	Now       *time.Time     `yaml:"now"`
}

// Matrix is the common case in bulk: each role (a caller holding only it)
// against each tool; a row's cells follow Tools' order.
type Matrix struct {
	Name  string                    `yaml:"name"`
	Phase string                    `yaml:"phase"` // list (default) | call
	Tools []string                  `yaml:"tools"`
	Args  map[string]map[string]any `yaml:"args"` // per tool, for phase call
	Roles map[string][]string       `yaml:"roles"`
}

// The phases and expectations.
const (
	PhaseCall = "call"
	PhaseList = "list"
)

var expectations = map[string][]string{
	PhaseCall: {"allow", "deny", "approval"},
	PhaseList: {"offered", "hidden"},
}

// LoadSuite reads and checks one suite file against the policy's tools.
func LoadSuite(path string, pol Policy) (*Suite, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := &Suite{Name: filepath.Base(path)}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := s.check(pol); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// check refuses what would make a case mean nothing: an unknown tool,
// principal or expectation, a matrix row of the wrong length.
func (s *Suite) check(pol Policy) error {
	var errs []error
	if len(s.Cases) == 0 && len(s.Matrix) == 0 {
		errs = append(errs, errors.New("no cases and no matrix"))
	}
	for name, ps := range s.Principals {
		errs = append(errs, ps.checkActor("principals."+name))
	}
	for i, c := range s.Cases {
		key := fmt.Sprintf("cases[%d] (%s)", i, c.Name)
		if c.Name == "" {
			errs = append(errs, fmt.Errorf("cases[%d]: name is required", i))
		}
		if (c.As == "") == (c.Principal == nil) {
			errs = append(errs, fmt.Errorf("%s: exactly one of as and principal is required", key))
		} else if _, ok := s.Principals[c.As]; c.As != "" && !ok {
			errs = append(errs, fmt.Errorf("%s: as: no principal is named %q", key, c.As))
		} else if c.Principal != nil {
			errs = append(errs, c.Principal.checkActor(key+": principal"))
		}
		errs = append(errs, checkCell(key, pol, c.Tool, phaseOf(c.Phase, PhaseCall), c.Expect))
	}
	for i, m := range s.Matrix {
		key := fmt.Sprintf("matrix[%d]", i)
		if len(m.Tools) == 0 || len(m.Roles) == 0 {
			errs = append(errs, fmt.Errorf("%s: tools and roles are required", key))
		}
		for role, cells := range m.Roles {
			if len(cells) != len(m.Tools) {
				errs = append(errs, fmt.Errorf("%s.roles.%s: %d cells for %d tools", key, role, len(cells), len(m.Tools)))
				continue
			}
			for j, cell := range cells {
				errs = append(errs, checkCell(fmt.Sprintf("%s.roles.%s[%d]", key, role, j), pol, m.Tools[j], phaseOf(m.Phase, PhaseList), cell))
			}
		}
	}
	return errors.Join(errs...)
}

func checkCell(key string, pol Policy, tool, phase, expect string) error {
	want, ok := expectations[phase]
	switch {
	case !ok:
		return fmt.Errorf("%s: phase %q: want call or list", key, phase)
	case pol.Tools[tool] == nil:
		return fmt.Errorf("%s: tool %q is not in the config", key, tool)
	case !slices.Contains(want, expect):
		return fmt.Errorf("%s: expect %q: for phase %s want one of %v", key, expect, phase, want)
	}
	return nil
}

func phaseOf(p, def string) string {
	if p == "" {
		return def
	}
	return p
}

// checkActor refuses an actor that names nobody.
func (spec PrincipalSpec) checkActor(key string) error {
	for i, a := range spec.Actor {
		if a.Subject == "" && a.ClientID == "" {
			return fmt.Errorf("%s.actor[%d]: subject or client_id is required", key, i)
		}
	}
	return nil
}

// principal is the caller spec declares, its claims as a verified token's
// (JSON numbers are float64, as conditions see them in production).
func (spec PrincipalSpec) principal() (*principal.Principal, error) {
	p := &principal.Principal{
		Subject: spec.Subject, Issuer: spec.Issuer, Roles: spec.Roles, Scopes: spec.Scopes,
		Method: principal.Method(spec.Method), Claims: map[string]any{},
	}
	if p.Method == "" {
		p.Method = principal.MethodAPIKey
	}
	for _, a := range spec.Actor {
		p.Actor = append(p.Actor, principal.Actor{Subject: a.Subject, ClientID: a.ClientID, Roles: a.Roles})
	}
	if p.Subject == "" {
		p.Subject = "policy-test"
	}
	if len(spec.Claims) > 0 {
		b, err := json.Marshal(spec.Claims)
		if err != nil {
			return nil, fmt.Errorf("claims: %w", err)
		}
		if err := json.Unmarshal(b, &p.Claims); err != nil {
			return nil, fmt.Errorf("claims: %w", err)
		}
	}
	return p, nil
}
