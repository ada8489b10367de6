// End-to-end tests drive the built binary; see the other files of this target.
