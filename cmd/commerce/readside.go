package main

import (
	"context"
	"errors"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/projections"
	"github.com/commerce-engine/commerce/readapi"
)

// readSide runs the projections this process serves reads from.
type readSide struct {
	runner *projections.Runner
	api    *readapi.API
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startReadSide starts the in-memory catalog model, rebuilt from the log at
// start and then following it live. It runs until stop, not until the
// serve context ends, so that reads in flight during a graceful stop are
// still answered.
func (m *Main) startReadSide(store eventstore.Store) *readSide {
	ctx, cancel := context.WithCancel(context.Background())
	rs := &readSide{runner: &projections.Runner{Store: store}, cancel: cancel}
	codec := commands.NewCodec()
	catalog := projections.NewMemoryCatalog(codec)
	carts := projections.NewMemoryCarts(codec)
	rs.api = &readapi.API{Catalog: catalog, Carts: carts}
	for _, p := range []projections.Projection{
		{Name: "catalog", Filter: projections.CatalogFilter, Target: catalog},
		{Name: "carts", Filter: projections.CartFilter, Target: carts},
	} {
		rs.wg.Add(1)
		go func() {
			defer rs.wg.Done()
			if err := rs.runner.Run(ctx, p); err != nil && !errors.Is(err, context.Canceled) {
				m.log.Error("projection stopped", "projection", p.Name, "error", err)
			}
		}()
	}
	return rs
}

// mount registers the read routes; authn guards the caller's own ones.
func (rs *readSide) mount(authn gin.HandlerFunc) func(gin.IRouter) {
	return func(r gin.IRouter) { rs.api.Mount(r, authn) }
}

// stop ends the projections and waits for them.
func (rs *readSide) stop() {
	rs.cancel()
	rs.wg.Wait()
}
