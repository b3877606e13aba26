package audit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHMACKeySource_Load(t *testing.T) {
	long, short := strings.Repeat("k", MinHMACKeyBytes), strings.Repeat("k", MinHMACKeyBytes-1)
	dir := t.TempDir()
	write := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	longFile, shortFile := write("long.key", long), write("short.key", short)
	tests := []struct {
		name    string
		env     string
		file    string
		create  bool
		want    string // the key; "" when refused
		wantErr string
	}{
		{name: "environment first", env: long, file: shortFile, want: long},
		{name: "short environment value", env: short, file: longFile, wantErr: "at least 16 bytes"},
		{name: "file", file: longFile, want: long},
		{name: "short file", file: shortFile, wantErr: "at least 16 bytes"},
		{name: "neither", wantErr: "no key"},
		{name: "missing file, reader", file: filepath.Join(dir, "none.key"), wantErr: "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "KEY" {
					return tc.env
				}
				return ""
			}
			got, err := HMACKeySource{Env: "KEY", File: tc.file}.Load(getenv, tc.create)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load = %q, %v; want an error with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("Load = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	t.Run("missing file, server makes it once", func(t *testing.T) {
		src := HMACKeySource{Env: "KEY", File: filepath.Join(t.TempDir(), "new.key")}
		none := func(string) string { return "" }
		first, err := src.Load(none, true)
		if err != nil || len(first) < MinHMACKeyBytes {
			t.Fatalf("Load = %q, %v", first, err)
		}
		again, err := src.Load(none, false)
		if err != nil || string(again) != string(first) {
			t.Fatalf("reload = %q, %v; want %q", again, err, first)
		}
		if err := ContentHMAC.validate(first); err != nil {
			t.Fatalf("the made key is refused by the log: %v", err)
		}
	})
}
