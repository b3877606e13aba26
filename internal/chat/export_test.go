package chat

// Enter admits a run on f, for tests that need runs in flight.
func Enter(f *InFlight, max int) bool { return f.Enter(max) }
