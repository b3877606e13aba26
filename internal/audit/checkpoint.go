package audit

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

// Checkpoint is a signed statement that a chain had reached Seq with head
// Hash at Time. Kept outside the store (exported), it lets Verify detect a
// log whose tail was cut off, or whose history was rewritten and re-hashed.
type Checkpoint struct {
	ChainID   string    `json:"chain_id"`
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	Time      time.Time `json:"time"`
	PublicKey []byte    `json:"public_key"` // Ed25519, base64 in JSON
	Signature []byte    `json:"signature"`  // Ed25519 over signedBytes
}

// signedBytes is what a checkpoint's signature covers: a versioned text with
// one field per line.
func (c Checkpoint) signedBytes() []byte {
	var b bytes.Buffer
	b.WriteString("gatehouse audit checkpoint v1\n")
	b.WriteString("chain " + c.ChainID + "\n")
	b.WriteString("seq " + strconv.FormatInt(c.Seq, 10) + "\n")
	b.WriteString("head " + c.Hash + "\n")
	b.WriteString("time " + c.Time.UTC().Format(time.RFC3339Nano) + "\n")
	return b.Bytes()
}

// SignCheckpoint returns a checkpoint of a chain head signed with key.
func SignCheckpoint(key ed25519.PrivateKey, chainID string, seq int64, hash string, at time.Time) Checkpoint {
	c := Checkpoint{ChainID: chainID, Seq: seq, Hash: hash, Time: at.UTC()}
	c.PublicKey = key.Public().(ed25519.PublicKey)
	c.Signature = ed25519.Sign(key, c.signedBytes())
	return c
}

// VerifySignature checks c's signature. With a non-nil pub the checkpoint
// must also have been made by that key; otherwise its own key is taken.
func (c Checkpoint) VerifySignature(pub ed25519.PublicKey) error {
	if len(c.PublicKey) != ed25519.PublicKeySize {
		return errors.New("checkpoint has no valid public key")
	}
	if pub != nil && !pub.Equal(ed25519.PublicKey(c.PublicKey)) {
		return errors.New("checkpoint signed by an unexpected key")
	}
	if !ed25519.Verify(c.PublicKey, c.signedBytes(), c.Signature) {
		return errors.New("checkpoint signature is invalid")
	}
	return nil
}

// ReadCheckpoints reads checkpoints from r: a single checkpoint JSON object,
// or JSON lines as written by Export (event lines are skipped).
func ReadCheckpoints(r io.Reader) ([]Checkpoint, error) {
	cps, _, err := ReadExport(r)
	if err == nil && len(cps) == 0 {
		return nil, errors.New("read checkpoints: no checkpoint found")
	}
	return cps, err
}

// ReadExport reads what `audit verify --checkpoint FILE` trusts from a file
// kept away from the log: its checkpoints (a single checkpoint JSON object,
// or the checkpoint lines of Export's JSON lines) and, as anchors, the
// events an export holds — each must still be in the log, unchanged, so a
// deleted tail is found even where no checkpoint covered it.
func ReadExport(r io.Reader) ([]Checkpoint, []Anchor, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("read checkpoints: %w", err)
	}
	var single Checkpoint
	if json.Unmarshal(data, &single) == nil && single.ChainID != "" && len(single.Signature) > 0 {
		return []Checkpoint{single}, nil, nil
	}
	var cps []Checkpoint
	var anchors []Anchor
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var l struct {
			exportLine
			Anchor
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, nil, fmt.Errorf("read checkpoints line %d: %w", line, err)
		}
		switch {
		case l.Checkpoint != nil && l.ChainID != "":
			return nil, nil, fmt.Errorf("read checkpoints line %d: both a checkpoint and an event", line)
		case l.Checkpoint != nil:
			cps = append(cps, *l.Checkpoint)
		case l.ChainID != "" && l.Seq > 0 && l.Hash != "":
			anchors = append(anchors, l.Anchor)
		default:
			return nil, nil, fmt.Errorf("read checkpoints line %d: neither a checkpoint nor an event", line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("read checkpoints: %w", err)
	}
	if len(cps) == 0 && len(anchors) == 0 {
		return nil, nil, errors.New("read checkpoints: no checkpoint or event found")
	}
	return cps, anchors, nil
}

// LoadOrCreateKey reads the Ed25519 checkpoint signing key at path (PKCS#8
// PEM), creating it with mode 0600 when it does not exist.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	key, err := LoadKey(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return key, err
	}
	_, key, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate checkpoint key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode checkpoint key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create checkpoint key: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return nil, fmt.Errorf("write checkpoint key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write checkpoint key: %w", err)
	}
	return key, nil
}

// LoadKey reads an Ed25519 checkpoint signing key (PKCS#8 PEM).
func LoadKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("read checkpoint key %s: no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse checkpoint key: %w", err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("parse checkpoint key %s: not an Ed25519 key", path)
	}
	return key, nil
}

// LoadPublicKey reads an Ed25519 checkpoint verification key (PKIX "PUBLIC
// KEY" PEM, as MarshalPublicKey writes), so those who verify the log need
// not hold the signing key.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint public key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("read checkpoint public key %s: no PUBLIC KEY PEM block", path)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse checkpoint public key: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("parse checkpoint public key %s: not an Ed25519 key", path)
	}
	return pub, nil
}

// MarshalPublicKey encodes a checkpoint verification key as LoadPublicKey
// reads it.
func MarshalPublicKey(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode checkpoint public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
