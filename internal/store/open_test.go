package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenSQLiteRelativePath(t *testing.T) {
	dir := t.TempDir()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chdir(wd) })
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := OpenAudit(ctx, "sqlite://data/audit.db")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s, err := OpenSessions(ctx, "sqlite://data/sessions.db")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, f := range []string{"audit.db", "sessions.db"} {
		if _, err := os.Stat(filepath.Join(dir, "data", f)); err != nil {
			t.Errorf("%s not created: %v", f, err)
		}
	}
}

func TestOpenRejectsUnknownDSN(t *testing.T) {
	for _, dsn := range []string{"", "mysql://root:secret@db/x", "sqlite://", "audit.db"} {
		_, err := OpenAudit(context.Background(), dsn)
		if err == nil {
			t.Errorf("OpenAudit(%q) succeeded", dsn)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("OpenAudit(%q) error leaks the password: %v", dsn, err)
		}
	}
}
