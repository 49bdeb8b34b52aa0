"""The gallery's page and pictures: `page` renders index.html, `pictures` makes its images."""
