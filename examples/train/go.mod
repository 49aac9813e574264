module github.com/growthtrain/growthtrain/examples/train

go 1.26

require github.com/growthtrain/growthtrain v0.1.0

// For development inside the repository: use the checkout two directories up instead of the
// published module. A program of your own leaves this line out (or points it at your clone).
replace github.com/growthtrain/growthtrain => ../..
