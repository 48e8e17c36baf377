// Loaded with NODE_OPTIONS=--require=<this file> before js-ipfs (npm
// package `ipfs` 0.66), whose dependencies call Promise.withResolvers, which
// Node only has from version 22.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve, reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
