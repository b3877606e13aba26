package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// OriginPrefix begins every chain's checkpoint origin: gatehouse/<chain>.
const OriginPrefix = "gatehouse/"

// NoteKeyName names the note keys gatehouse makes (the key's name in its
// signature lines; the origin names the chain).
const NoteKeyName = "gatehouse"

// Origin is the C2SP tlog-checkpoint origin line of a chain.
func Origin(chainID string) string { return OriginPrefix + chainID }

// NoteCheckpoint is a chain's checkpoint as a C2SP tlog-checkpoint signed
// note: the origin, the tree size and the root hash, signed by the log's
// note key, with the cosignatures witnesses gave it.
type NoteCheckpoint struct {
	ChainID string
	Size    int64
	Root    tlog.Hash
	// Note is the note as the log signed it (text and the log's signature).
	Note         []byte
	Cosignatures []Cosignature
}

// Cosignature is a witness's signature line over a checkpoint.
type Cosignature struct {
	Witness string // the witness key's name
	Line    string // "— name base64\n"
}

// Signed returns the note with every cosignature line after the log's own.
func (c NoteCheckpoint) Signed() []byte {
	out := bytes.Clone(c.Note)
	for _, s := range c.Cosignatures {
		out = append(out, s.Line...)
	}
	return out
}

// Text is the checkpoint body (what every signature covers).
func (c NoteCheckpoint) Text() string {
	return formatCheckpoint(Origin(c.ChainID), c.Size, c.Root)
}

func formatCheckpoint(origin string, size int64, root tlog.Hash) string {
	return fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root[:]))
}

// parseCheckpoint reads a tlog-checkpoint body (extension lines ignored).
func parseCheckpoint(text string) (origin string, size int64, root tlog.Hash, err error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 || lines[0] == "" {
		return "", 0, root, errors.New("malformed checkpoint")
	}
	size, err = strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return "", 0, root, errors.New("malformed checkpoint size")
	}
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != tlog.HashSize {
		return "", 0, root, errors.New("malformed checkpoint root hash")
	}
	copy(root[:], h)
	return lines[0], size, root, nil
}

// SignNote returns the checkpoint of chainID at size with root, signed.
func SignNote(s note.Signer, chainID string, size int64, root tlog.Hash) (NoteCheckpoint, error) {
	text := formatCheckpoint(Origin(chainID), size, root)
	msg, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		return NoteCheckpoint{}, fmt.Errorf("sign checkpoint: %w", err)
	}
	return NoteCheckpoint{ChainID: chainID, Size: size, Root: root, Note: msg}, nil
}

// OpenNote verifies a signed checkpoint with the log's key and returns it
// with every line verifiable by witnesses as a cosignature; lines by keys
// not given are dropped.
func OpenNote(msg []byte, logKey note.Verifier, witnesses []note.Verifier) (NoteCheckpoint, error) {
	n, err := note.Open(msg, note.VerifierList(append([]note.Verifier{logKey}, witnesses...)...))
	if err != nil {
		return NoteCheckpoint{}, fmt.Errorf("open checkpoint: %w", err)
	}
	origin, size, root, err := parseCheckpoint(n.Text)
	if err != nil {
		return NoteCheckpoint{}, err
	}
	chain, ok := strings.CutPrefix(origin, OriginPrefix)
	if !ok {
		return NoteCheckpoint{}, fmt.Errorf("checkpoint origin %q is not %s<chain>", origin, OriginPrefix)
	}
	c := NoteCheckpoint{ChainID: chain, Size: size, Root: root}
	var own bool
	for _, s := range n.Sigs {
		line := "— " + s.Name + " " + s.Base64 + "\n"
		if s.Name == logKey.Name() && s.Hash == logKey.KeyHash() {
			own = true
			c.Note = []byte(n.Text + "\n" + line)
			continue
		}
		c.Cosignatures = append(c.Cosignatures, Cosignature{Witness: s.Name, Line: line})
	}
	if !own {
		return NoteCheckpoint{}, errors.New("open checkpoint: not signed by the log's key")
	}
	return c, nil
}

// NoteKey is the log's note signing key (a note.Signer) with its
// verifier key text.
type NoteKey struct {
	note.Signer
	Verifier string // the verifier key, "name+hash+base64"
}

// LoadOrCreateNoteKey reads the note signing key at path (the text
// note.GenerateKey makes, "PRIVATE+KEY+name+hash+base64"), creating one
// named name with mode 0600 when the file does not exist.
func LoadOrCreateNoteKey(path, name string) (NoteKey, error) {
	k, err := LoadNoteKey(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return NoteKey{}, fmt.Errorf("generate note key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return NoteKey{}, fmt.Errorf("create note key: %w", err)
	}
	if _, err := f.WriteString(skey + "\n"); err != nil {
		f.Close()
		return NoteKey{}, fmt.Errorf("write note key: %w", err)
	}
	if err := f.Close(); err != nil {
		return NoteKey{}, fmt.Errorf("write note key: %w", err)
	}
	return LoadNoteKey(path)
}

// LoadNoteKey reads a note signing key file.
func LoadNoteKey(path string) (NoteKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return NoteKey{}, fmt.Errorf("read note key: %w", err)
	}
	return ParseNoteKey(strings.TrimSpace(string(data)))
}

// ParseNoteKey reads a note signing key ("PRIVATE+KEY+...").
func ParseNoteKey(skey string) (NoteKey, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return NoteKey{}, fmt.Errorf("parse note key: %w", err)
	}
	vkey, err := verifierKey(skey)
	if err != nil {
		return NoteKey{}, err
	}
	return NoteKey{Signer: s, Verifier: vkey}, nil
}

// verifierKey derives "name+hash+base64(0x01||pub)" from a signing key.
func verifierKey(skey string) (string, error) {
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 {
		return "", errors.New("parse note key: malformed")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 33 || raw[0] != 1 {
		return "", errors.New("parse note key: not an Ed25519 note key")
	}
	pub := ed25519Public(raw[1:])
	return parts[2] + "+" + parts[3] + "+" + base64.StdEncoding.EncodeToString(append([]byte{1}, pub...)), nil
}

func ed25519Public(seed []byte) []byte {
	return ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
}
