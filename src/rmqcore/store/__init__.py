"""The message store: CommitLog, ConsumeQueue and IndexFile on mmap'ed files (C hot path)."""
