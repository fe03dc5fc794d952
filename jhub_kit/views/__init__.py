"""What students and teachers see: the student's quota on the hub's pages
(:mod:`.student`, ``templates/``), the class dashboard service
(:mod:`.dashboard`) and the per-user quota rows both share (:mod:`.report`).
"""
