package app

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/config"
)

// Regenerated dev credentials and config are private (0600) even when the
// file they replace was not.
func TestSetupDev_RegeneratedFilesArePrivate(t *testing.T) {
	dir := t.TempDir()
	if _, err := setupDev(dir); err != nil {
		t.Fatal(err)
	}
	creds := filepath.Join(dir, config.DevCredentialsFile)
	if err := os.Chmod(creds, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, config.DevConfigFile)); err != nil { // new keys are made when the config is gone
		t.Fatal(err)
	}
	if _, err := setupDev(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{config.DevCredentialsFile, config.DevConfigFile} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v; want 0600", name, fi.Mode().Perm())
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
