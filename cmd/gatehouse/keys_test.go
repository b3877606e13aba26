package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/config"
)

func TestKeysNew_PrintsTheKeyOnceAndItsHashAsConfig(t *testing.T) {
	var out, errb syncBuffer
	err := run(context.Background(), []string{"keys", "new", "--subject", "ops-bot", "--roles", "agent,viewer", "--claim", "customer_id=C-100"},
		func(string) string { return "" }, nil, &out, &errb)
	if err != nil {
		t.Fatalf("keys new: %v %s", err, errb.String())
	}
	text := out.String()
	keys := regexp.MustCompile(`gh_[A-Za-z0-9_-]{43}`).FindAllString(text, -1)
	if len(keys) != 1 {
		t.Fatalf("want the key printed exactly once, got %d:\n%s", len(keys), text)
	}
	_, lines, ok := strings.Cut(text, "Config lines for auth.api_keys (only the hash is stored):\n\n")
	if !ok {
		t.Fatalf("no config lines:\n%s", text)
	}
	var entries []config.APIKey
	if err := yaml.Unmarshal([]byte(lines), &entries); err != nil || len(entries) != 1 {
		t.Fatalf("config lines do not parse as an api_keys list: %v\n%s", err, lines)
	}
	e := entries[0]
	sum := sha256.Sum256([]byte(keys[0]))
	if e.Subject != "ops-bot" || e.SHA256 != hex.EncodeToString(sum[:]) || strings.Join(e.Roles, ",") != "agent,viewer" || e.Claims["customer_id"] != "C-100" {
		t.Fatalf("entry %+v", e)
	}
	d, _ := authn.ParseDigest(e.SHA256)
	p, err := authn.NewAPIKeys([]authn.APIKey{{Digest: d, Subject: e.Subject, Roles: e.Roles}}).VerifyToken(context.Background(), keys[0])
	if err != nil || p.Subject != "ops-bot" {
		t.Fatalf("the printed key does not verify against the printed hash: %v", err)
	}
	if strings.Contains(lines, keys[0]) {
		t.Error("the key appears in the config lines")
	}
}
