// node-postgres against accord: simple and extended (parameterised) queries.
// Usage: node node_client.js <host> <port> <token>; prints JSON.
const { Client } = require("pg");

async function main() {
  const [host, port, password] = process.argv.slice(2);
  const client = new Client({ host, port: Number(port), user: "analyst", password, database: "accord" });
  await client.connect();
  const out = {};
  const simple = await client.query("SELECT status, revenue, orders FROM orders GROUP BY status ORDER BY status");
  out.simple = simple.rows.map((r) => [r.status, String(r.revenue), String(r.orders)]);
  out.types = simple.fields.map((f) => [f.name, f.dataTypeID]);
  const ext = await client.query({
    text: "SELECT status, revenue FROM orders WHERE status = $1 GROUP BY status",
    values: ["completed"],
  });
  out.extended = ext.rows.map((r) => [r.status, String(r.revenue)]);
  const named = await client.query({ name: "by-status", text: "SELECT status, orders FROM orders WHERE status <> $1 GROUP BY 1 ORDER BY 1", values: ["x"] });
  const again = await client.query({ name: "by-status", values: ["completed"] });
  out.named = [named.rows.length, again.rows.length];
  await client.end();
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e.code, e.message);
  process.exit(1);
});
