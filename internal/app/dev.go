package app

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/devkey"
)

// devData is what dev mode runs with.
type devData struct {
	cfgPath string
	creds   map[string]string // demo user -> API key
	jwks    []byte            // the dev issuer's public keys, served at /.well-known/jwks.json
}

// setupDev prepares the dev data dir on first start — keys for the demo
// users, the dev JWT key and its JWKS, and the config — and reuses them on
// later starts.
func setupDev(dataDir string) (devData, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return devData{}, fmt.Errorf("create data dir: %w", err)
	}
	cfgPath := filepath.Join(dataDir, config.DevConfigFile)
	credsPath := filepath.Join(dataDir, config.DevCredentialsFile)
	key, err := devkey.LoadOrCreate(dataDir)
	if err != nil {
		return devData{}, fmt.Errorf("dev jwt key: %w", err)
	}
	jwks, err := key.PublicJWKS()
	if err != nil {
		return devData{}, fmt.Errorf("dev jwt key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, config.DevJWKSFile), jwks, 0o644); err != nil {
		return devData{}, fmt.Errorf("write dev jwks: %w", err)
	}
	if _, err := os.Stat(cfgPath); err == nil {
		creds, err := readCreds(credsPath)
		return devData{cfgPath, creds, jwks}, err
	} else if !errors.Is(err, os.ErrNotExist) {
		return devData{}, err
	}
	users := config.DevUsers()
	creds := map[string]string{}
	var env strings.Builder
	env.WriteString("# gatehouse dev credentials — 'source' this file. Generated once; keep it private.\n")
	for i := range users {
		k, digest, err := authn.NewKey()
		if err != nil {
			return devData{}, err
		}
		users[i].Hash = digest
		creds[users[i].Name] = k
		fmt.Fprintf(&env, "GATEHOUSE_%s_KEY=%s\n", strings.ToUpper(users[i].Name), k)
	}
	if err := writePrivate(credsPath, []byte(env.String())); err != nil {
		return devData{}, fmt.Errorf("write credentials: %w", err)
	}
	yml, err := config.DevYAML(dataDir, users)
	if err != nil {
		return devData{}, err
	}
	if err := writePrivate(cfgPath, yml); err != nil {
		return devData{}, fmt.Errorf("write dev config: %w", err)
	}
	return devData{cfgPath, creds, jwks}, nil
}

func readCreds(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	defer f.Close()
	creds := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(k, "GATEHOUSE_"), "_KEY"))
		creds[name] = v
	}
	return creds, sc.Err()
}

// printDev tells a newcomer what they have and how to call it.
func printDev(w io.Writer, dataDir, baseURL string, creds map[string]string, modelNote string) {
	fmt.Fprintf(w, "\ngatehouse dev mode — data in %s\n", dataDir)
	fmt.Fprintf(w, "model: %s\n", modelNote)
	fmt.Fprintf(w, "demo users (keys also in %s; 'source' it):\n", filepath.Join(dataDir, config.DevCredentialsFile))
	for _, u := range config.DevUsers() {
		fmt.Fprintf(w, "  %-9s GATEHOUSE_%s_KEY=%s\n", u.Name, strings.ToUpper(u.Name), creds[u.Name])
	}
	fmt.Fprintf(w, "\nconsole: %s/console/ (sign in with one of the keys above)\n", baseURL)
	fmt.Fprintf(w, "\ntry:\n")
	fmt.Fprintf(w, "  curl %s/health\n", baseURL)
	fmt.Fprintf(w, "  curl -X POST %s/chat -H 'Content-Type: application/json' -H 'Authorization: Bearer %s' -d '{\"message\":\"What is the status of claim CLM-1001?\"}'\n", baseURL, creds["agent"])
	fmt.Fprintf(w, "  curl -X POST %s/v1/chat -H 'Content-Type: application/json' -H 'Authorization: Bearer %s' -d '{\"message\":\"Show payments of C-100\"}'\n", baseURL, creds["customer"])
	fmt.Fprintf(w, "\nhuman approval (policy_update waits for a supervisor):\n")
	fmt.Fprintf(w, "  curl -X POST %s/v1/chat -H 'Content-Type: application/json' -H 'Authorization: Bearer %s' -d '{\"message\":\"Set the status of policy POL-500 to lapsed\"}'   # 202 awaiting_approval\n", baseURL, creds["admin"])
	fmt.Fprintf(w, "  curl %s/v1/approvals -H 'Authorization: Bearer %s'   # the supervisor sees the call, its arguments and args_sha256\n", baseURL, creds["supervisor"])
	fmt.Fprintf(w, "  curl -X POST %s/v1/approvals/APPROVAL_ID -H 'Content-Type: application/json' -H 'Authorization: Bearer %s' -d '{\"decision\":\"approve\",\"args_sha256\":\"ARGS_SHA256\"}'\n", baseURL, creds["supervisor"])
	fmt.Fprintf(w, "  curl %s/v1/runs/RUN_ID -H 'Authorization: Bearer %s'   # the run continues on the server: completed, with the answer\n", baseURL, creds["admin"])
	printDataProtection(w, baseURL, creds)
	printPassthrough(w, baseURL, creds["agent"])
	fmt.Fprintf(w, "\nMCP under policy (the demo knowledge base, an MCP server over stdio; kb_read may read /kb/public only):\n")
	for _, doc := range []string{"/kb/public/claims.md", "/kb/internal/fraud-rules.md"} {
		fmt.Fprintf(w, "  curl -X POST %s/v1/chat -H 'Content-Type: application/json' -H 'Authorization: Bearer %s' -d '{\"message\":\"read %s\"}'\n", baseURL, creds["agent"], doc)
	}
	fmt.Fprintln(w)
}

// printDataProtection shows a card number the model never sees: the model
// gets a token, card_status gets the number, the agent's answer shows the
// token and the admin's the number.
func printDataProtection(w io.Writer, baseURL string, creds map[string]string) {
	fmt.Fprintf(w, "\ndata protection (the model sees ⟦card:…⟧; card_status receives the number):\n")
	for _, c := range []struct{ who, note string }{{"agent", "card_status ran; the answer names the card by its token"}, {"admin", "admin is in data_protection.reveal: the answer shows the number"}} {
		fmt.Fprintf(w, "  curl -X POST %s/v1/chat -H 'Content-Type: application/json' -H 'Authorization: Bearer %s' -d '{\"message\":\"Is my card 4111 1111 1111 1111 still active?\"}'   # %s\n",
			baseURL, creds[c.who], c.note)
	}
	fmt.Fprintf(w, "  # the audit log records data.found (type, where, action, keyed hash), never the number\n")
}

// printPassthrough shows the governed pass-through: a client tool call to
// an address in the bank is released to the client, one outside is not.
func printPassthrough(w io.Writer, baseURL, key string) {
	fmt.Fprintf(w, "\nOpenAI-compatible API (base URL %s/v1); a client-side agent's send_email, allowed then refused:\n", baseURL)
	for _, to := range []string{"bob@bank.example", "eve@evil.example"} {
		fmt.Fprintf(w, "  curl -X POST %s/v1/chat/completions -H 'Authorization: Bearer %s' -d '{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"email %s about lunch\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"send_email\",\"parameters\":{\"type\":\"object\"}}}]}'\n", baseURL, key, to)
	}
}

// writePrivate replaces path with data, mode 0600 whatever the file was
// before (os.WriteFile keeps an existing file's mode): written to a new
// file in the same directory, then renamed over.
func writePrivate(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename, nothing to remove
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
