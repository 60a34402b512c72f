// The seed's real-time path, as a Node/Socket.IO app would build it:
// POST /events -> save the notification (SQLite, WAL) -> emit
// `notification:new` to the user's room. Sockets authenticate with a JWT
// and join `user:<sub>`, as the seed's middleware did.
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import Database from "better-sqlite3";
import jwt from "jsonwebtoken";
import { Server } from "socket.io";

const port = Number(process.argv[2] || 0);
const secret = process.env.JWT_SECRET;
const apiKey = process.env.EVENTS_API_KEY;
const db = new Database(process.argv[3] || ":memory:");
db.pragma("journal_mode = WAL");
db.exec(`CREATE TABLE IF NOT EXISTS notifications (id TEXT PRIMARY KEY, event_id TEXT UNIQUE, user_id TEXT, type TEXT,
  title TEXT, message TEXT, created_at TEXT, read INTEGER DEFAULT 0)`);
const insert = db.prepare(`INSERT OR IGNORE INTO notifications (id, event_id, user_id, type, title, message, created_at)
  VALUES (?, ?, ?, ?, ?, ?, ?)`);

const http = createServer((req, res) => {
  if (req.method !== "POST" || req.url !== "/events") { res.writeHead(404).end(); return; }
  if (req.headers["x-api-key"] !== apiKey) { res.writeHead(401).end(); return; }
  let body = "";
  req.on("data", (c) => { body += c; });
  req.on("end", () => {
    let e;
    try { e = JSON.parse(body); } catch { res.writeHead(400).end(); return; }
    if (!e.id || !e.userId || !e.type) { res.writeHead(400).end(); return; }
    const n = { id: randomUUID(), type: e.type, title: `Order ${e.data?.orderId} confirmed`, message: `Thanks for your order of ${e.data?.total} ${e.data?.currency}.`,
      priority: "normal", actionUrl: `/orders/${e.data?.orderId}`, actionText: "View order", createdAt: new Date().toISOString(), read: false, eventId: e.id };
    const saved = insert.run(n.id, e.id, e.userId, n.type, n.title, n.message, n.createdAt);
    if (saved.changes === 1) io.to(`user:${e.userId}`).emit("notification:new", n);
    res.writeHead(202, { "content-type": "application/json" }).end(JSON.stringify({ id: e.id, status: "accepted" }));
  });
});

const io = new Server(http, { transports: ["websocket"] });
io.use((socket, next) => {
  try {
    const claims = jwt.verify(socket.handshake.auth?.token, secret, { algorithms: ["HS256"] });
    socket.data.userId = claims.sub;
    next();
  } catch {
    next(new Error("unauthorized"));
  }
});
io.on("connection", (socket) => socket.join(`user:${socket.data.userId}`));

http.listen(port, "127.0.0.1", () => console.log(`ready http://127.0.0.1:${http.address().port}`));
