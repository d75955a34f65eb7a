"""Live calls of a consultation: WebRTC between two people (signalling over the Channels
WebSocket, STUN/TURN as configured) and consiliums of three to five through an SFU (Janus)."""
