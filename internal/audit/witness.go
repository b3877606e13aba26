package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Witness is one witness of the log (C2SP tlog-witness): it cosigns a
// checkpoint only when it is consistent with the last one it cosigned.
type Witness struct {
	URL      string // base URL; checkpoints go to URL/add-checkpoint
	Verifier note.Verifier
}

// WitnessConfig configures Witnessing. NewWitnessing fills defaults.
type WitnessConfig struct {
	Store   TreeStore
	ChainID string
	// LogKey verifies the log's own signature on what witnesses return.
	LogKey    note.Verifier
	Witnesses []Witness
	Quorum    int
	// Client sends the checkpoints. Default: a client with a 10s timeout.
	Client *http.Client
	// RetryInterval is how often an unwitnessed checkpoint is sent again
	// (a witness that was down catches up). Default 30s. RetryTicks,
	// when set, replaces its ticker (tests drive it).
	RetryInterval time.Duration
	RetryTicks    <-chan time.Time
	Logger        *slog.Logger
}

// Witnessing sends each new checkpoint of a chain to the witnesses with a
// consistency proof from the last one each cosigned, and stores their
// cosignatures. It never stops the log: a witness that is down only
// leaves a tail of events unwitnessed (see Status), sent again later.
type Witnessing struct {
	cfg  WitnessConfig
	kick chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once

	mu    sync.Mutex
	state []WitnessState // guarded by mu, one per witness
}

// WitnessState is what one witness has done with the chain.
type WitnessState struct {
	URL      string `json:"url"`
	Name     string `json:"name"`
	Cosigned int64  `json:"cosigned_size"` // the largest size it cosigned
	Error    string `json:"error,omitempty"`
	// Fork is set when the witness refused a checkpoint as inconsistent
	// with one it cosigned before: the log's history is not what it saw.
	Fork bool `json:"fork,omitempty"`
}

// ErrFork means a witness holds a checkpoint the log's tree is not
// consistent with: two histories of one log.
var ErrFork = errors.New("witness refuses the checkpoint as inconsistent with one it cosigned (fork)")

// NewWitnessing starts witnessing; Close stops it.
func NewWitnessing(cfg WitnessConfig) (*Witnessing, error) {
	if cfg.Store == nil || cfg.LogKey == nil || cfg.ChainID == "" {
		return nil, errors.New("new witnessing: store, log key and chain are required")
	}
	if cfg.Quorum < 0 || cfg.Quorum > len(cfg.Witnesses) {
		return nil, fmt.Errorf("new witnessing: quorum %d of %d witnesses", cfg.Quorum, len(cfg.Witnesses))
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	setDefault(&cfg.RetryInterval, 30*time.Second)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	w := &Witnessing{cfg: cfg, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	for _, x := range cfg.Witnesses {
		w.state = append(w.state, WitnessState{URL: x.URL, Name: x.Verifier.Name()})
	}
	go w.run()
	return w, nil
}

// Notify asks for the latest checkpoint to be witnessed (the log's OnNote).
// It never blocks.
func (w *Witnessing) Notify(NoteCheckpoint) {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Close stops witnessing.
func (w *Witnessing) Close() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}

func (w *Witnessing) run() {
	defer close(w.done)
	ticks := w.cfg.RetryTicks
	if ticks == nil {
		t := time.NewTicker(w.cfg.RetryInterval)
		defer t.Stop()
		ticks = t.C
	}
	w.sync()
	for {
		select {
		case <-w.kick:
		case <-ticks:
		case <-w.stop:
			return
		}
		w.sync()
	}
}

// sync sends the chain's latest checkpoint to every witness that has not
// cosigned it.
func (w *Witnessing) sync() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-w.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	notes, err := w.cfg.Store.Notes(ctx, w.cfg.ChainID)
	if err != nil || len(notes) == 0 {
		return
	}
	latest := notes[len(notes)-1]
	for i, x := range w.cfg.Witnesses {
		last := cosignedBy(notes, x.Verifier.Name())
		err := error(nil)
		if last < latest.Size {
			last, err = w.submit(ctx, x, latest, last)
		}
		w.mu.Lock()
		w.state[i].Cosigned, w.state[i].Error, w.state[i].Fork = last, "", errors.Is(err, ErrFork)
		if err != nil {
			w.state[i].Error = err.Error()
		}
		w.mu.Unlock()
		if err != nil {
			level := slog.LevelWarn
			if errors.Is(err, ErrFork) {
				level = slog.LevelError
			}
			w.cfg.Logger.Log(ctx, level, "audit witness", "witness", x.URL, "chain", w.cfg.ChainID, "size", latest.Size, "err", err)
		}
	}
}

// cosignedBy is the largest size a witness named name cosigned.
func cosignedBy(notes []NoteCheckpoint, name string) int64 {
	var n int64
	for _, c := range notes {
		for _, s := range c.Cosignatures {
			if s.Witness == name && c.Size > n {
				n = c.Size
			}
		}
	}
	return n
}

// submit sends cp with a proof from old; a 409 naming the size the witness
// knows is answered once with a proof from that size. It returns the
// largest size the witness is known to have cosigned.
func (w *Witnessing) submit(ctx context.Context, x Witness, cp NoteCheckpoint, old int64) (int64, error) {
	for attempt := 0; attempt < 2; attempt++ {
		err := w.addCheckpoint(ctx, x, cp, old)
		var conflict *conflictError
		switch {
		case err == nil:
			return cp.Size, nil
		case errors.As(err, &conflict) && conflict.known <= cp.Size && conflict.known != old:
			old = conflict.known
			continue
		case errors.As(err, &conflict):
			return old, fmt.Errorf("%w: the witness knows size %d, the log's checkpoint is size %d", ErrFork, conflict.known, cp.Size)
		default:
			return old, err
		}
	}
	return old, fmt.Errorf("witness %s: conflicting sizes, gave up", x.URL)
}

type conflictError struct{ known int64 }

func (e *conflictError) Error() string { return fmt.Sprintf("witness knows size %d", e.known) }

// addCheckpoint is one C2SP tlog-witness add-checkpoint request; the
// cosignatures it returns are checked and stored.
func (w *Witnessing) addCheckpoint(ctx context.Context, x Witness, cp NoteCheckpoint, old int64) error {
	proof, err := ConsistencyProof(ctx, w.cfg.Store, cp.ChainID, old, cp.Size)
	if err != nil {
		return err
	}
	var body bytes.Buffer
	fmt.Fprintf(&body, "old %d\n", old)
	for _, h := range proof {
		body.WriteString(h.String() + "\n")
	}
	body.WriteString("\n")
	body.Write(cp.Note)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(x.URL, "/")+"/add-checkpoint", &body)
	if err != nil {
		return fmt.Errorf("witness %s: %w", x.URL, err)
	}
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("witness %s unreachable: %w", x.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("witness %s: read answer: %w", x.URL, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusConflict:
		n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		if err != nil {
			return fmt.Errorf("witness %s: 409 without a size", x.URL)
		}
		return &conflictError{n}
	case http.StatusUnprocessableEntity:
		return fmt.Errorf("%w: witness %s refused the consistency proof from size %d to %d", ErrFork, x.URL, old, cp.Size)
	default:
		return fmt.Errorf("witness %s: %s: %s", x.URL, resp.Status, strings.TrimSpace(string(bound(Event{Reason: string(data)}).Reason)))
	}
	signed, err := OpenNote(append(append([]byte{}, cp.Note...), data...), w.cfg.LogKey, []note.Verifier{x.Verifier})
	if err != nil || len(signed.Cosignatures) == 0 {
		return fmt.Errorf("witness %s: its answer holds no valid cosignature by its key", x.URL)
	}
	for _, c := range signed.Cosignatures {
		if err := w.cfg.Store.AddCosignature(ctx, cp.ChainID, cp.Size, c); err != nil {
			return fmt.Errorf("store cosignature: %w", err)
		}
	}
	return nil
}

// WitnessStatus is the chain's witnessing as /ready and the metrics show it.
type WitnessStatus struct {
	Quorum int `json:"quorum"`
	// WitnessedSize is the largest checkpoint cosigned by the quorum;
	// Unwitnessed the chain's events after it (the lag).
	WitnessedSize int64          `json:"witnessed_size"`
	Unwitnessed   int64          `json:"unwitnessed_events"`
	Witnesses     []WitnessState `json:"witnesses"`
}

// Status reads the chain's witnessed size from the store.
func (w *Witnessing) Status(ctx context.Context) (WitnessStatus, error) {
	st := WitnessStatus{Quorum: w.cfg.Quorum}
	w.mu.Lock()
	st.Witnesses = append([]WitnessState{}, w.state...)
	w.mu.Unlock()
	notes, err := w.cfg.Store.Notes(ctx, w.cfg.ChainID)
	if err != nil {
		return st, err
	}
	for _, n := range notes {
		if len(n.Cosignatures) >= w.cfg.Quorum && n.Size > st.WitnessedSize {
			st.WitnessedSize = n.Size
		}
	}
	head, ok, err := w.cfg.Store.Head(ctx, w.cfg.ChainID)
	if err != nil {
		return st, err
	}
	if ok {
		st.Unwitnessed = max(0, head.Seq-st.WitnessedSize)
	}
	return st, nil
}
