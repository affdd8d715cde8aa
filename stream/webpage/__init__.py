"""The live page a QA lead keeps open: one static HTML file with plain JS and CSS, served by every worker."""
