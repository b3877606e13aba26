package config

import (
	"net/url"
	"strconv"
	"strings"
)

// checkWitnesses checks audit.witnesses and audit.witness_quorum. The key
// is checked for shape here (name+hash+base64); package audit parses it.
func (a *Audit) checkWitnesses(bad func(string, string, ...any)) {
	for i, w := range a.Witnesses {
		key := "audit.witnesses[" + strconv.Itoa(i) + "]"
		u, err := url.Parse(w.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(key+".url", "must be an http(s) URL, not %q", w.URL)
		}
		if strings.Count(w.Key, "+") < 2 {
			bad(key+".key", "must be the witness's note verifier key (name+hash+base64)")
		}
		if len(a.Witnesses) > 0 && a.NoteKeyFile == "" {
			bad("audit.witnesses", "need audit.note_key_file (witnesses cosign its checkpoints)")
			break
		}
	}
	if a.WitnessQuorum < 0 || a.WitnessQuorum > len(a.Witnesses) {
		bad("audit.witness_quorum", "must be between 0 and the number of witnesses (%d), not %d", len(a.Witnesses), a.WitnessQuorum)
	}
}
