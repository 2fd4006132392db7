// Package controllers reconciles trenches: one reconcile reads a trench and its resources from
// the cache, renders them, hands the objects to a sink, and reports on every resource the status
// gathered from the live objects. Every event on a Meridio resource or a rendered object maps to
// its trench, so a trench is always rendered whole.
package controllers
