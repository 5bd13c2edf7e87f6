//go:build !race

package e2e

// raceEnabled reports whether the tests were built with -race; see race_test.go.
const raceEnabled = false
