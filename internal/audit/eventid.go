package audit

import (
	"errors"
	"strconv"
	"strings"
)

// EventID names one event: its chain and seq, written "CHAIN:SEQ" (the
// last colon separates them, so a chain id may hold one).
type EventID struct {
	ChainID string
	Seq     int64
}

func (id EventID) String() string { return id.ChainID + ":" + strconv.FormatInt(id.Seq, 10) }

// ParseEventID reads "CHAIN:SEQ".
func ParseEventID(s string) (EventID, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return EventID{}, errors.New("event id is not CHAIN:SEQ")
	}
	seq, err := strconv.ParseInt(s[i+1:], 10, 64)
	if err != nil || seq < 1 || strconv.FormatInt(seq, 10) != s[i+1:] {
		return EventID{}, errors.New("event id is not CHAIN:SEQ (seq a positive integer)")
	}
	return EventID{ChainID: s[:i], Seq: seq}, nil
}
