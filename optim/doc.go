// Package optim is growthtrain's optimisation layer, shared by everything that trains: the
// budgeted trainer, the recovery diagnostic and the self-test. It holds the AdamW optimizer over
// named parameters (with decayed and not-decayed parameter groups), learning-rate schedules,
// global gradient-norm clipping, and Step, the one training step: micro-batches, backward, a
// gradient-reduction hook, clipping and the update.
//
// Step returns the loss and the gradient norm as tensors on the device, so a caller that logs
// every n steps synchronises with the device only then. Mixed precision, a fused loss or a
// data-parallel all-reduce each land in Step once instead of in every training loop.
package optim
