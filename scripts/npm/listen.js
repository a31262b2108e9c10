// Starts kinesalite or dynalite in memory, bound to 127.0.0.1 only (kinesalite's CLI has no --host option).
// Usage: node listen.js kinesalite|dynalite PORT
'use strict'

const [name, port] = process.argv.slice(2)
if (!['kinesalite', 'dynalite'].includes(name) || !port) {
  console.error('usage: node listen.js kinesalite|dynalite PORT')
  process.exit(2)
}

// Short state transitions keep tests that create and delete streams and tables fast.
const opts = name === 'kinesalite'
  ? { createStreamMs: 50, deleteStreamMs: 50, updateStreamMs: 50, shardLimit: 100000 }
  : { createTableMs: 50, deleteTableMs: 50, updateTableMs: 50 }

const server = require(name)(opts)
server.listen(Number(port), '127.0.0.1', (err) => {
  if (err) throw err
  console.log(`${name} listening on 127.0.0.1:${port}`)
})

// Its log says why it ended: a signal here, a crash's stack from Node itself. Silence means SIGKILL.
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    console.log(`${name} stopping on ${sig}`)
    server.close(() => process.exit(0))
  })
}
