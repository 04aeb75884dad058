"""Field work: what grid workers do on their phones (reports, their team's cases, on-site checks, photos)."""
