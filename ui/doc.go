// Package ui is shardscope's live terminal console: a Bubble Tea program
// that shows one Kinesis stream at a time (header with the capacity mode
// and cost meter, shards, record feed, producers, consumer applications
// with their workers and leases, cost, events), switches between streams,
// and turns single keys into load experiments (split, merge, retention,
// time-lapse, producer rates, bursts and key skew, capacity mode, adding
// and removing polling and fan-out consumers, stopping a worker).
//
// The package owns presentation and keyboard handling only. It reads the
// engine's types but never calls the engine, the producers or the
// consumers directly: everything goes through the Backend interface, which
// main.go adapts. Data arrives on one paced tick that reads an immutable
// snapshot and drains a bounded feed; actions run as tea.Cmds whose
// outcomes land in the events pane. View never does I/O.
package ui
