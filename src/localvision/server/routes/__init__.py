"""The routes: each reads its request with the kit (server/request.py), asks the service
(server/service/), and renders the answer. Nothing here guards the door: the guards
(server/guards/) have run before a route is reached."""
