//! A full disk (issue 15, part 2).
