package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
)

// In dev mode the Responses API reaches the pass-through model, and a role
// that may use the model but not its client tool (customer) sees the tool
// removed, where agent sees it offered and its call released.
func TestDevMode_ResponsesToolRemovedForARole(t *testing.T) {
	g := startDevAt(t, filepath.Join(t.TempDir(), "gatehouse-data"))
	respond := func(user string) map[string]any {
		body, _ := json.Marshal(map[string]any{"model": "gpt-4o-mini", "input": "email bob@bank.example about lunch",
			"tools": []any{map[string]any{"type": "function", "name": "send_email", "parameters": map[string]any{"type": "object"}}}})
		req, _ := http.NewRequest("POST", g.base+"/v1/responses", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+g.keys[user])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", user, resp.StatusCode, m)
		}
		return m
	}
	types := func(m map[string]any) []string {
		var out []string
		for _, it := range m["output"].([]any) {
			out = append(out, it.(map[string]any)["type"].(string))
		}
		return out
	}
	agent := respond("agent")
	if !slices.Contains(types(agent), "function_call") {
		t.Errorf("agent: no call released: %v", agent)
	}
	customer := respond("customer")
	gh := customer["gatehouse"].(map[string]any)
	if removed, _ := gh["removed_tools"].([]any); len(removed) != 1 || removed[0] != "send_email" || slices.Contains(types(customer), "function_call") {
		t.Errorf("customer: %v", customer)
	}
}
