package main

import (
	"github.com/commerce-engine/commerce/httpapi"
	"github.com/commerce-engine/commerce/httpedge"
	"github.com/commerce-engine/commerce/internal/app"
	"github.com/commerce-engine/commerce/internal/loadgen"
)

// The names the end-to-end tests use for what now lives in internal/app,
// internal/loadgen and httpedge.
const (
	headerRequestID     = httpedge.HeaderRequestID
	headerCorrelationID = httpedge.HeaderCorrelationID
)

var (
	readModelPool = app.ReadModelPool
	sendJSON      = loadgen.SendJSON
	loadgenSteps  = loadgen.Steps
)

// WithRoutes mounts extra routes behind the built-in middleware.
var WithRoutes = app.WithRoutes

// checkResult is one dependency's entry in the /readyz answer.
type checkResult = httpapi.CheckResult
