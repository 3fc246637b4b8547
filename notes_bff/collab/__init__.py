"""Collaborative editing of notes (Yjs CRDT over y-websocket), without transport: the
protocol, rooms, the Redis update log and its compaction into MongoDB, checkpoints into the
note, tickets and restore points. The websocket route is ``notes_bff/http/collab_socket.py``;
the design is in docs/collaboration.md."""
